"""Surveys, from programme to answer: when one goes out (rules, planning), its invitation and how it
changes, sending (dispatch, links, views), answering (answers, readings), bounces, and the report."""
