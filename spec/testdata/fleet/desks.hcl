# The lab's desk servers, on every host whose name starts with lab-.

server "desk" {
  hosts = ["lab-*"]
  count = 2
}
