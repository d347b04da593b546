"""The sector view for NHS Providers' analysts: heatmaps and headline figures, never one trust."""
