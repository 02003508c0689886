#!/bin/sh
# Healthy when Redis answers PING with the password from the compose secret.
REDISCLI_AUTH=$(cat /run/secrets/redis_password) redis-cli ping | grep -q PONG
