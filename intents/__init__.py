"""The bundled intent pack (YAML data only; installed as ``assistant.intents``)."""
