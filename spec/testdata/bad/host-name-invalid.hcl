# want: 2: Invalid host name
host "Pi_1!" {
}
