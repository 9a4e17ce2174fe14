# want: 3: Fixed port in defaults
defaults {
  port = 13500
}
