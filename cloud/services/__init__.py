"""The service layer: every transaction boundary and every tenant check lives here.

Each function takes the caller's ``Principal`` and scopes its queries by it; routes only parse
and serialise. A resource of another tenant is reported as not found, so ids reveal nothing.
"""
