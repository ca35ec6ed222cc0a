"""What every cxloop service needs: settings, models of events, storage helpers, observability."""
