"""Work orders: tickets that travel between departments and regions under deadlines."""
