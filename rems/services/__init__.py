"""Services own transactions: load facts, ask the engine, write records + audit + signatures."""
