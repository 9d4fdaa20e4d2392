"""The recipient's page (``/r/<token>``): signed links, the pickup group, its code as a QR code,
the recipient's actions (extend, share, refuse) and their standing consent (decision 0018)."""
