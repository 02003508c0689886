"""The player wallet: bonus money, points, the transaction log and redemptions."""
