"""Where deliveries come from and where results go, outside the service: Google (OAuth,
Drive, Sheets) and webhooks."""
