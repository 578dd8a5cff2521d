"""Human-study protocols (AMT real-vs-fake, best-of-N, MOS): designs, a simulated observer, tables, power."""
