"""Launch campaigns: the reveal moment, early-bird perks, deep links and attribution, the live view."""
