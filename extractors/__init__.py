"""Pull sources: the ad platforms through their official clients (see README.md)."""
