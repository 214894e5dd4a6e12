"""The typed specs of every analysis, kept apart from the engines so that reading them (the CLI's
``--help``, the generated workspace methods) imports pydantic only, never Ibis.

``discovery`` (journey filter, process map, variants, paths, touchpoints, XES export), ``funnel``,
``comparison`` (segments and periods), ``summary`` (journey outcome rates), ``customer`` (360),
``identity`` (the ``[identity]`` settings: which identifiers may link customers).
"""
