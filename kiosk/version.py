"""The version of the kiosk's software that is running (the installed package's)."""
import importlib.metadata

SOFTWARE_VERSION = importlib.metadata.version("sscard-kiosk")
