"""The SMS providers' stand-ins as fixtures."""

pytest_plugins = ["stand_ins.sms"]
