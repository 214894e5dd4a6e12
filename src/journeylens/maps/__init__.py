"""Journey maps as code: designed maps checked against behaviour, drawn with data, and monitored."""
