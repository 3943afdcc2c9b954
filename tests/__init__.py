"""symderiv's tests, in folders that mirror the packages (data in writeups/)."""
