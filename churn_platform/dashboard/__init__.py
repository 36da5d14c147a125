"""The risk dashboard for product managers: a Streamlit app over the snapshots the pipeline publishes."""
