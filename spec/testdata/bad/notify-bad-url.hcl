# want: 3: Invalid URL
notify "alertmanager" {
  url = "127.0.0.1:9093"
}
