; Hooks the Tauri bundler adds to Perch's NSIS installer
; (bundle.windows.nsis.installerHooks in src-tauri/tauri.conf.json).

; "Start at login" (the tray, Settings) is a Run value that auto-launch
; writes under the name "perch". Removing Perch removes it too, so Windows
; does not try to start a program that is gone.
!macro NSIS_HOOK_POSTUNINSTALL
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "perch"
!macroend
