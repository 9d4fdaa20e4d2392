"""The console's accounts: people, sessions, CSRF, roles, one-time links (decision 0022)."""
