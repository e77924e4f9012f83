"""Person-car-home: devices, homes, the MQTT bridge, Home Assistant discovery and the scene engine."""
