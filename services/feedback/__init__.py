"""Feedback: webhook intake, order/fulfilment records, (later) surveys and responses."""
