"""The outdial domain: targets, outdials, addresses and plans. Pure: no HTTP, no SQL."""
