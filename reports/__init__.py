"""Reports: tables, plots, HTML and the regression gate. Reports only format result rows; they never recompute."""
