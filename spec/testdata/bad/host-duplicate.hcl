# want: 5: Duplicate host name
host "pi-1" {
}

host "pi-1" {
}
