"""The L3 worker: routers as network namespaces with OVS internal ports and a private nft table."""
