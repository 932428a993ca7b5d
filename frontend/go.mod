module github.com/parleychat/parley/frontend

go 1.26.0

require github.com/parleychat/parley/platform v0.0.0

replace github.com/parleychat/parley/platform => ../platform
