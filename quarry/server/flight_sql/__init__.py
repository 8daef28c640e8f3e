"""Arrow Flight SQL: quarry behind ``pyarrow.flight.FlightServerBase`` (see quarry.server)."""
