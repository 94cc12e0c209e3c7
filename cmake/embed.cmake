# Writes a C file holding the bytes of IN as pvx_krelay_bpf_obj (cmake -P,
# at build time): the BPF object travels inside pv-xconnect, no file to
# install.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* Generated from ${NAME} by cmake/embed.cmake. */\n#include <stddef.h>\nextern const unsigned char ${SYM}[];\nextern const size_t ${SYM}_len;\nconst unsigned char ${SYM}[] = {\n${body}\n};\nconst size_t ${SYM}_len = ${len};\n")
