"""The cloud's end of the MQTT link: the ingest worker and the embedded broker."""
