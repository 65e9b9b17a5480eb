# hydra-conform on a hostile bot whose attack runs in create() (and, for
# hostile_ctor, in an ELF constructor before any callback). Each check's child
# confines itself as a worker does before it opens the plugin, so the attack
# writes nothing, and the checks that load the bot report it killed by
# SIGSYS instead of passing it.
#   -DTOOL=hydra-conform -DPLUGIN=<.so> -DWORK=<scratch dir> -DATTACK=<attack|ctor>
# The checks that create the bot, without the two leak checks, which a
# sanitizer build runs unconfined (LeakSanitizer needs ptrace; conform.c).
set(checks --include "create-valid-config|empty-snapshot|bad-prices|intents-valid")
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
if(ATTACK STREQUAL "ctor")
  set(flag /tmp/hydra-hostile-ctor-flag) # fixed in the plugin: a constructor sees no parameters
  set(args ${checks} --seed 1 --timeout 3 ${PLUGIN})
else()
  set(flag ${WORK}/escaped)
  file(WRITE ${WORK}/bots.yaml
"bots:
  - bot_id: hostile_1
    enabled: true
    plugin: hostile
    bucket: momentum
    asset_class: equity
    symbols: [AAPL]
    signal:
      mode: attack
      params: {attack: ${ATTACK}, when: create, flag_path: ${flag}}
")
  set(args --params ${WORK}/bots.yaml --bot hostile_1 ${checks} --seed 1 --timeout 3 ${PLUGIN})
endif()
file(REMOVE ${flag})
execute_process(COMMAND ${TOOL} ${args} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(EXISTS ${flag})
  file(REMOVE ${flag})
  message(FATAL_ERROR "the bot's attack wrote ${flag}: the check's child was not confined\n${out}${err}")
endif()
if(rc EQUAL 0 OR NOT out MATCHES "NOT CONFORMING")
  message(FATAL_ERROR "hydra-conform passed a bot that attacks its host (exit ${rc})\n${out}${err}")
endif()
if(NOT out MATCHES "CRASH +[a-z-]+ +the child was killed by signal 31")
  message(FATAL_ERROR "the attack was not stopped by the seccomp allow-list (SIGSYS)\n${out}${err}")
endif()
