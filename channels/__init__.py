"""Edges for the channels other than the app: kiosks, TV boxes and the 12345 hotline. They
authenticate devices and signatures and translate protocols; the rules stay in the domain
packages."""
