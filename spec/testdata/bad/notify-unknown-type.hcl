# want: 2: Missing notifier type
notify "pager" {
  url = "http://127.0.0.1:9000"
}
