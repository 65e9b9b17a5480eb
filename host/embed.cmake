# Writes OUT, a C file holding the bytes of IN as the array NAME and its
# length NAME_len: how the dashboard page and the backtest report's template
# are built into hydra-host.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){24})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from ${IN} by embed.cmake; edit that file instead. */\n"
                  "#include <stddef.h>\n"
                  "const char ${NAME}[] = {\n${bytes}0};\n"
                  "const size_t ${NAME}_len = ${len};\n")
