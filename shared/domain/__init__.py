"""Framework-free building blocks every service's domain may use."""
