"""Pydantic models of every request and response, named for their role (``TargetIn``,
``TargetOut``, ...) so that they never shadow the domain's own ``Target``, ``Plan``, ...

Limits come from the domain's constants, so the OpenAPI description and the domain's own
checks never disagree; rules a schema cannot say (an address's target per type) stay in
the domain, which names the field when it refuses.
"""
