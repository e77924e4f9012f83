"""Supply: suppliers and their users, part demand forecasts, weekly confirmations, shortage flags."""
