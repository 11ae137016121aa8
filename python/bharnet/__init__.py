"""bharnet: body-hand expert skeleton action recognition."""
__version__ = "0.1.0"
