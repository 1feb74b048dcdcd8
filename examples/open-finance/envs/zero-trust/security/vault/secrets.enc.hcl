# Capstan secrets file, format 1. Names are clear, values are encrypted.
# Change it with `capstan secrets set` or `capstan secrets edit`: hand edits fail the MAC check.
version = 1

recipients = [
  "age1cxjrc4mcjlncqlqf6zyazakkzm2jgxw9ad6t8jyfzeahntuh05rqag9yg7",
]

data_key = "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBmbklSQm5IZlRLUEhyRklDQXpBSFlWTjd5dVlRNVhkUWJhdGNNUFhIbXo0Ckgvek1kYTQzeE1Qak9ZWUJGZXYwY2xzTVhYNkVXNTM1WnVQcEFvYkM0bTAKLT4gOi1ncmVhc2UgdD93ZHZgCmNEM3FKMnFNUDdRMjZOVlBadmVweVVPS1hKZmMxTjlkMG1ocXAra1lrc0RJc0dvT0xXOWdqem1KVzI4R3FUTFQKYTJxOHpTYXFTWjJiYjIxWUFucHVwaXRSQncrR0FQckRWNE0yCi0tLSBBNXVGK0lmakpCQU9GMHJUaytSVGtRSHRhVDA0YWhVRlE5WDZUd2FzWlJvCqxNwpEwcPGqtaB75PGOguzMucwXACeBWZtv4guzMYCNovSLQx3sk6sEzY8gcbqMC1fit0763IJ2QWt+ZHBHp/I="

secrets = {
  values_sensitive_custom = "chacha20poly1305:+B9V2176dnNSTn/f:VpOK79cp59LA9VAeX795OuE/4k2gP+EVDGWJ2EYzi5k326U1kIdHDvayWWSQ8V9G0bVex3DjD6QHokyLAf52mxK5xPMpIw=="
}

mac = "hmac-sha256:4099ec39f96d8cd2651c9258c94c271035c98cbc4de97b78247724ee1c77b443"
