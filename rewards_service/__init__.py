"""Promotions and loyalty points earned from partner events."""
