"""What goes into and comes out of the programme's service functions, one module per area."""
