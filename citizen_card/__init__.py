"""The citizen card (市民卡): card records, their lifecycle and the card PIN. Points and history
belong to the resident, never to a card, so a lost or replaced card loses nothing."""
