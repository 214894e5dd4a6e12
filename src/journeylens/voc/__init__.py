"""Voice of the customer: what customers say (survey scores, comments) read next to what they do."""
