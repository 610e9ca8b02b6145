"""Message broker adapters: amqtt embedded in the process, or an external MQTT broker by URL."""
