"""Example values from the spec (seed-readme.md, "API Documentation"), shared by the views' OpenAPI examples."""

EXAMPLE_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGc..."
EXAMPLE_USER = {"id": 1, "email": "user@example.com", "username": "johndoe", "date_joined": "2024-01-15T10:30:00Z"}
