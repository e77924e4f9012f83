"""Local stand-ins of providers' HTTP APIs, checking requests as the providers do."""
