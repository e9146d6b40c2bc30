"""The local cloud: emulators, the Gemini/Veo simulator and the scripts that run them (never deployed)."""
