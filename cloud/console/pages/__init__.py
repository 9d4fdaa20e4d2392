"""The console's pages: one module of routes per page, gathered by ``routes``."""
