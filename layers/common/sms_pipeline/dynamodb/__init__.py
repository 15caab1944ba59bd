"""The job store on DynamoDB: the item codec (codec.py) and the store's reads and writes (store.py)."""
